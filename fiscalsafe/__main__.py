from fiscalsafe.cli.main import run

run()
