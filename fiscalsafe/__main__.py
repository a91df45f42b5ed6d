from fiscalsafe.cli.entry import run

run()
