from commsbot.cli import main

main()
