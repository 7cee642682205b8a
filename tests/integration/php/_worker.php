<?php
// Worker-mode entry for the shared PHP test suite: each request runs the script it names, so
// the same scripts serve php-fpm, classic mode and worker mode.
$handler = static function (): void {
    require $_SERVER['SCRIPT_FILENAME'];
};
while (askr_handle_request($handler)) {
}
