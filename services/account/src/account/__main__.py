from __future__ import annotations

from shared.service import run_app

from account.main import create_app


def main() -> None:
    run_app(create_app)


if __name__ == "__main__":
    main()
