; Inno Setup script: a per-user installer (no administrator rights) for the PyInstaller bundle.
;
;   iscc /DAppVersion=0.1.0 /DBundleDir=..\..\dist\morpheus-desktop installer\windows\morpheus-desktop.iss
;
; Installs into %LOCALAPPDATA%\Programs\Morpheus Desktop, adds a Start menu entry (and, if asked, a
; desktop icon and "start with my computer"), and registers an uninstaller in "Apps & features".
; The uninstaller removes the program only: the wallet, chats and settings in
; %LOCALAPPDATA%\MorpheusDesktop stay, so a reinstall finds them again.
; Built by .github/workflows/release.yml on a Windows runner; not buildable on Linux.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef BundleDir
  #define BundleDir "..\..\dist\morpheus-desktop"
#endif

[Setup]
AppId={{6C1F2A7E-5B8D-4E0B-9C51-3D2E7A9B4F10}
AppName=Morpheus Desktop
AppVersion={#AppVersion}
AppPublisher=Morpheus Desktop developers
AppPublisherURL=https://mor.org
DefaultDirName={autopf}\Morpheus Desktop
DefaultGroupName=Morpheus Desktop
DisableProgramGroupPage=yes
; Per user, no UAC prompt; {autopf} then means %LOCALAPPDATA%\Programs.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=MorpheusDesktop-{#AppVersion}-windows-x64-setup
SetupIconFile=morpheus-desktop.ico
UninstallDisplayIcon={app}\morpheus-desktop.exe
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
; A running copy keeps its files open: ask it to close (it quits cleanly on the restart manager's
; request) instead of failing halfway.
CloseApplications=yes

[Tasks]
Name: "desktopicon"; Description: "Create a &desktop icon"; GroupDescription: "Shortcuts:"; Flags: unchecked
Name: "autostart"; Description: "&Start Morpheus Desktop when I log in (for sharing a GPU)"; GroupDescription: "Start-up:"; Flags: unchecked

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\Morpheus Desktop"; Filename: "{app}\morpheus-desktop.exe"
Name: "{autodesktop}\Morpheus Desktop"; Filename: "{app}\morpheus-desktop.exe"; Tasks: desktopicon

[Registry]
; The same value app/autostart.py writes, so the program's own setting and this checkbox agree.
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; ValueName: "MorpheusDesktop"; ValueData: """{app}\morpheus-desktop.exe"""; Tasks: autostart; Flags: uninsdeletevalue

[UninstallDelete]
; Only what the installer put there; user data lives elsewhere and is kept.
Type: filesandordirs; Name: "{app}\_internal"

[UninstallRun]
; Turn "start with my computer" off even when it was turned on from inside the program.
Filename: "{cmd}"; Parameters: "/C reg delete HKCU\Software\Microsoft\Windows\CurrentVersion\Run /v MorpheusDesktop /f"; Flags: runhidden; RunOnceId: "RemoveAutostart"

[Run]
Filename: "{app}\morpheus-desktop.exe"; Description: "Start Morpheus Desktop now"; Flags: nowait postinstall skipifsilent
