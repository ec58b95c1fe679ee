"""The REST API under ``/api/v3`` (GitHub Enterprise Server's prefix): thin handlers over the
domain services, one route table (``routes.ROUTES``) for the server and its OpenAPI document."""
