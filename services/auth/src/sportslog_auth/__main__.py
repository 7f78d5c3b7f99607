import sys

from sportslog_auth.app import create_app
from sportslog_auth.keys import SigningKeyError
from sportslog_auth.settings import AuthSettings
from sportslog_common.service import serve
from sportslog_common.settings import load_settings


def main() -> None:
    settings = load_settings(AuthSettings)
    try:
        app = create_app(settings)
    except SigningKeyError as exc:
        print(f"AuthSettings: cannot start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    serve(app, settings)


if __name__ == "__main__":
    main()
