"""The coordinators' HTTP service (FastAPI): a thin layer over ``matching`` with a database,
scoped access and the proposal workflow.  ``api.main.create_app`` builds it."""
