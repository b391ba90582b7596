/* A hostile plugin: never returns, never makes a call. */
int main(void)
{
	for (volatile unsigned long i = 0;; i++)
		;
}
