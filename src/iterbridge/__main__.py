from iterbridge.cli import main

main()
