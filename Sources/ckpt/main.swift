import CkptCLI
