"""The coordinators' HTTP service (FastAPI) — a thin layer over ``matching``; see issue 5."""
