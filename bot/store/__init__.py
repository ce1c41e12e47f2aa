"""Member-services data layer: models, engines and sessions, migrations, demo data and import."""
