"""Flask extensions, created unbound and initialised in ``create_app``."""

from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_mailman import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from intake.addresses import staff_client_key
from intake.db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
mail = Mail()
# Keys are keyed hashes of the client address (intake.addresses): the limiter's storage, Redis
# in production, never holds an address (DESIGN §1.7).
limiter = Limiter(key_func=staff_client_key, default_limits=[])
