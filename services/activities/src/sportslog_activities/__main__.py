from sportslog_activities.app import create_app
from sportslog_activities.settings import ActivitiesSettings
from sportslog_common.service import serve
from sportslog_common.settings import load_settings


def main() -> None:
    settings = load_settings(ActivitiesSettings)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
