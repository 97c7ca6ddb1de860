from services.scimctl.cli import main

main()
