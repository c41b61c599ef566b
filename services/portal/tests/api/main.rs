mod browser;
mod connecting;
mod helpers;
mod pasting;
mod screenshot;
mod status;
