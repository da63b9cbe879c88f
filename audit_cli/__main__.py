from audit_cli.console import main

main()
