fn main() {
    // Lets the cdylib leave napi_* symbols undefined; node provides them at dlopen time.
    napi_build::setup();
}
