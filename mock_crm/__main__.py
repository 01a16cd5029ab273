from mock_crm.cli import main

main()
