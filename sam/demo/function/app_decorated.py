"""The same function protected in code: ``@protect`` instead of the exec wrapper.

For functions that cannot set ``AWS_LAMBDA_EXEC_WRAPPER``: attach the layer (or
``pip install app-protect-lambda`` into the package) and decorate the handler.
``@protect`` goes innermost, right around the function, so that Powertools'
Logger still sees every invocation, the blocked ones included.
"""
from __future__ import annotations

from app import app, import_users, logger
from aws_lambda_powertools.logging import correlation_paths

from app_protect_lambda import protect


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@protect
def handler(event: dict, context: object) -> dict:
    if "Records" in event:
        return import_users(event)
    return app.resolve(event, context)
