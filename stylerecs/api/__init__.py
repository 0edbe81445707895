"""The stylerecs REST API (Django REST framework), mounted by the host under /api/.

One module per concept: authentication, permissions, throttles, serializers, views,
urls. The OpenAPI schema is served at ``schema/`` and Swagger UI at ``docs/``.
"""
