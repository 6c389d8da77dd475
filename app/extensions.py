"""Extension singletons. AppBuilder is created per app in create_app()."""
from flask import current_app
from flask_appbuilder.models.sqla.base import SQLA
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect
from werkzeug.local import LocalProxy

db = SQLA()
migrate = Migrate()
csrf = CSRFProtect()
appbuilder = LocalProxy(lambda: current_app.appbuilder)
limiter = LocalProxy(lambda: current_app.appbuilder.sm.limiter)
