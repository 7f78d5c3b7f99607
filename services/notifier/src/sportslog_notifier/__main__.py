from sportslog_common.service import serve
from sportslog_common.settings import load_settings
from sportslog_notifier.app import create_app
from sportslog_notifier.settings import NotifierSettings


def main() -> None:
    settings = load_settings(NotifierSettings)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
