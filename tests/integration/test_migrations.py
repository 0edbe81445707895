"""stylerecs' migrations run in any host: they name the product model by its setting."""

from pathlib import Path

import stylerecs

MIGRATIONS = Path(stylerecs.__file__).parent / "migrations"


def test_migrations_never_name_the_demo_shop():
    # makemigrations writes the demo's product model ('shop.product') for a foreign key to
    # STYLERECS_PRODUCT_MODEL; a host without a 'shop' app then cannot migrate at all.
    named = [
        path.name
        for path in sorted(MIGRATIONS.glob("0*.py"))
        if "'shop'" in path.read_text() or "'shop." in path.read_text()
    ]
    assert named == []
