<?php
namespace App\Controller;

use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpFoundation\RedirectResponse;
use Symfony\Component\HttpFoundation\Request;
use Symfony\Component\HttpFoundation\Response;

final class AppController
{
    public function hello(string $name): Response
    {
        $name = htmlspecialchars($name, ENT_QUOTES);
        return new Response("<!DOCTYPE html>\n<title>Hello</title>\n<h1>Hello, $name!</h1>\n");
    }

    // A counter kept in the session.
    public function counter(Request $request): JsonResponse
    {
        $session = $request->getSession();
        $count = $session->get('count', 0) + 1;
        $session->set('count', $count);
        return new JsonResponse(['count' => $count]);
    }

    // Rendered by Symfony's exception listener as its production error page (500).
    public function boom(): Response
    {
        throw new \RuntimeException('the app failed on purpose');
    }

    // A form post: 422 with the errors when a field is missing, else 303 to the greeting.
    public function form(Request $request): Response
    {
        $name = trim((string) $request->request->get('name', ''));
        $email = (string) $request->request->get('email', '');
        $errors = [];
        if ($name === '') {
            $errors['name'] = 'required';
        }
        if (filter_var($email, FILTER_VALIDATE_EMAIL) === false) {
            $errors['email'] = 'not an e-mail address';
        }
        if ($errors) {
            return new JsonResponse(['errors' => $errors], 422);
        }
        return new RedirectResponse('/hello/' . rawurlencode($name), 303);
    }
}
