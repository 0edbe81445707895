"""stylerecs for django-oscar shops (``pip install "stylerecs[oscar]"``).

- :class:`~stylerecs.contrib.oscar.adapters.OscarProductAdapter`: reads oscar's own
  ``catalogue.Product`` (primary ``ProductImage``, title, URL) and prices and
  availability from oscar's strategy (``partner.strategy.Selector``).
- ``"stylerecs.contrib.oscar"`` in ``INSTALLED_APPS`` (after oscar's apps) adds the
  stylerecs gallery, style profile and "Generate stylized variants…" action to the
  Django admin's oscar Product page.
- :func:`~stylerecs.contrib.oscar.dashboard.dashboard_navigation`: a "Style variants"
  menu for oscar's dashboard.

Nothing else in stylerecs imports this package or oscar. See docs/OSCAR.md.
"""
