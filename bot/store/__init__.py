"""Member-services data layer: models, engines and sessions, migrations and import (the demo
data, which needs business rules, lives above in `bot.demo`)."""
