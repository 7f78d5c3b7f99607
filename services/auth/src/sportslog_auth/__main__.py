from sportslog_auth.app import create_app
from sportslog_auth.settings import AuthSettings
from sportslog_common.service import serve
from sportslog_common.settings import load_settings


def main() -> None:
    settings = load_settings(AuthSettings)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
