# Start the MCTP endpoint at boot, configured by board_config (frozen, or a board_config.py on the
# filesystem). Being frozen, this runs in place of any main.py on the filesystem; Ctrl-C at the
# REPL stops the endpoint.
import firmware.board

firmware.board.main()
