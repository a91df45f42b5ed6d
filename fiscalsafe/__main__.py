from fiscalsafe.cli.entry import run

# Guarded: a spawned worker process imports the main module again, and must not run the CLI.
if __name__ == "__main__":
    run()
