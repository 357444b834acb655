"""``python -m synthaug`` runs the command line (also what ``torchrun -m synthaug`` needs)."""

import sys

from synthaug.cli import main

sys.exit(main())
