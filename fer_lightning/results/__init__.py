"""results/: publishing finished runs and generating the papers' tables from them."""
