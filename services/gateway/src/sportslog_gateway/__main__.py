from sportslog_common.service import serve
from sportslog_common.settings import load_settings
from sportslog_gateway.app import create_app
from sportslog_gateway.settings import GatewaySettings


def main() -> None:
    settings = load_settings(GatewaySettings)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
