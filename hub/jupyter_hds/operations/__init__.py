"""Running the hub on a host: `hds doctor` (health, with what to do), and the systemd units'
proxy launcher. The unit files, the install script and the nginx example are in hub/systemd/.
"""
