mod browser;
mod connecting;
mod google;
mod helpers;
mod pasting;
mod screenshot;
mod status;
