"""The top floor: builds settings and adapters once (``bootstrap``) and runs the processes — CLI, API, worker,
demo — from them. Nothing below this floor imports it."""
