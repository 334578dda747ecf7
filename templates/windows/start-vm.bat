{% include "windows/_bat_begin.txt" %}
rem Start the VM without a window.
{{ b.vmrun }} -T ws start {{ b.vmx }} nogui
if errorlevel 1 goto :fail
rem Wait for VMware Tools in the guest, then re-enable the shared folders (a reboot drops them).
{{ b.vmrun }} -T ws getGuestIPAddress {{ b.vmx }} -wait >nul
if errorlevel 1 goto :fail
call "%~dp0reset-shared-folders.bat"
if errorlevel 1 goto :fail
{% include "windows/_bat_end.txt" %}
