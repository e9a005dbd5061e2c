from recaudit.cli import main

main()
