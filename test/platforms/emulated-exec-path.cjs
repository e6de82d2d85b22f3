// Preloaded (NODE_OPTIONS=--require) into every Node process of an emulated test run. Under
// qemu-user, process.execPath names the foreign node binary, which this machine's kernel cannot
// exec without binfmt_misc; child processes (vitest's forks) start through the launcher script
// named here instead, which runs that binary under the emulator.
if (process.env.FERRITE_EMULATED_NODE) process.execPath = process.env.FERRITE_EMULATED_NODE
