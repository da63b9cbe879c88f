from audit_cli.cli import main

main()
