"""A small Django project served by granian-ts --interface wsgi in tests/e2e/test_wsgi_django.py."""
