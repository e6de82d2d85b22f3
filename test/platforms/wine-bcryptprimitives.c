// bcryptprimitives.dll for Wine 8 (Debian 12's), which lacks it: Rust's standard library on
// Windows draws its random numbers (HashMap seeds) from ProcessPrng there, which Windows 10 and
// later have, so no Rust-built addon (ferrite's, rolldown's) loads without it. `npm run test:win`
// builds this with MinGW's GCC into its Wine prefix; Windows itself never sees it. RtlGenRandom
// (SystemFunction036, advapi32) is the generator Wine has.
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
  while (length > 0) {
    ULONG chunk = length > MAXLONG ? MAXLONG : (ULONG)length;
    if (!SystemFunction036(data, chunk)) return FALSE;
    data += chunk;
    length -= chunk;
  }
  return TRUE;
}
