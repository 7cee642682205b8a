<?php
// A worker script that prints outside its requests: while booting (a long line among them, and
// one with a control character) and after each request.
echo "booting the app\n";
echo str_repeat('L', 5000), "\n";
echo "bell\x07here\n";
echo "no newline at the end of boot";
$handler = static function (): void {
    echo "the answer\n";
};
while (askr_handle_request($handler)) {
    echo "between requests\n";
}
