fn main() {
    napi_build::setup();
    // The addon stays loaded once loaded: src/stay_loaded.rs says why.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    }
}
