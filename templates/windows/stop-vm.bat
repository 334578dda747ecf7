{% include "windows/_bat_begin.txt" %}
rem Shut the guest down cleanly; use "hard" instead of "soft" if VMware Tools are not running.
{{ b.vmrun }} -T ws stop {{ b.vmx }} soft
if errorlevel 1 goto :fail
{% include "windows/_bat_end.txt" %}
