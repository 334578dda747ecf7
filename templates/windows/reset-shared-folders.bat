{% include "windows/_bat_begin.txt" %}
rem Needs the VM running with VMware Tools up (start-vm.bat waits for that).
{{ b.vmrun }} -T ws enableSharedFolders {{ b.vmx }}
if errorlevel 1 goto :fail
{%- for s in b.shares %}
rem Share {{ s.name }}: point it at its folder if the VM has it, else add it.
{{ b.vmrun }} -T ws setSharedFolderState {{ b.vmx }} {{ s.name }} {{ s.host_path }} writable >nul 2>&1
if not errorlevel 1 goto :share{{ loop.index }}
{{ b.vmrun }} -T ws addSharedFolder {{ b.vmx }} {{ s.name }} {{ s.host_path }}
if errorlevel 1 goto :fail
:share{{ loop.index }}
{%- endfor %}
{% include "windows/_bat_end.txt" %}
