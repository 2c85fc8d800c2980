import CkptCLI

// Everything lives in CkptCLI, so tests can drive the same commands.
Ckpt.main()
