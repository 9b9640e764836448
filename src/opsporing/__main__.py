"""``python -m opsporing`` runs the command line."""

from .cli import main

main()
