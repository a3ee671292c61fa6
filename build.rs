//! Generates include/h2client.h from src/ffi with cbindgen, and sets the shared library's
//! soname.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libh2client.so.0");

    let mut config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    // Version macros from Cargo.toml, so C code can check at compile time what h2_version()
    // reports at run time.
    let v = |k: &str| std::env::var(k).expect("cargo sets the package version");
    let (major, minor, patch) = (
        v("CARGO_PKG_VERSION_MAJOR"),
        v("CARGO_PKG_VERSION_MINOR"),
        v("CARGO_PKG_VERSION_PATCH"),
    );
    let num = |s: &str| s.parse::<u32>().expect("numeric version");
    config.after_includes = Some(format!(
        "\n/** Version of this header: {major}.{minor}.{patch} (h2_version() gives the library's). */\n\
         #define H2CLIENT_VERSION_MAJOR {major}\n\
         #define H2CLIENT_VERSION_MINOR {minor}\n\
         #define H2CLIENT_VERSION_PATCH {patch}\n\
         /** MAJOR * 10000 + MINOR * 100 + PATCH, for #if comparisons. */\n\
         #define H2CLIENT_VERSION_NUMBER {}\n\
         #define H2CLIENT_VERSION_STRING \"{major}.{minor}.{patch}\"\n",
        num(&major) * 10000 + num(&minor) * 100 + num(&patch)
    ));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/ffi/mod.rs"))
        .generate()
        .expect("generate the C header from src/ffi");
    bindings.write_to_file(dir.join("include/h2client.h"));
}
