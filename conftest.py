# Loads the shared fixtures (real PostgreSQL/RabbitMQ, unique names, SMTP fake) for every suite.
pytest_plugins = ["sportslog_testing"]
