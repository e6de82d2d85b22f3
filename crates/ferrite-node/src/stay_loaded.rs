//! Keeps the addon loaded for the life of the process. Node unloads an addon when the last
//! environment that loaded it goes away (a worker that exits while no other thread has it), but
//! the addon's thread pool and the allocator's per-thread state outlive that environment: their
//! code must stay mapped, and a later worker loading the addon again must find the same copy.
//! Linux links the addon with `-z nodelete` (build.rs), Windows pins the DLL below, and macOS
//! never unloads an image that has thread-local variables, as every Rust library does.

#[cfg(windows)]
#[napi_derive::module_init]
fn pin_the_dll() {
    use std::ffi::c_void;

    const GET_MODULE_HANDLE_EX_FLAG_PIN: u32 = 0x1;
    const GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS: u32 = 0x4;

    #[link(name = "kernel32")]
    extern "system" {
        fn GetModuleHandleExW(flags: u32, name: *const u16, module: *mut *mut c_void) -> i32;
    }

    let mut module = std::ptr::null_mut();
    // SAFETY: with FROM_ADDRESS, `name` is read as an address inside this DLL (this function's),
    // and `module` receives its handle; a pinned DLL is never unloaded, which is the point.
    unsafe {
        GetModuleHandleExW(
            GET_MODULE_HANDLE_EX_FLAG_PIN | GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS,
            pin_the_dll as *const () as *const u16,
            &mut module,
        )
    };
}
