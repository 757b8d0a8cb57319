from mutt_app.cli import main

main()
